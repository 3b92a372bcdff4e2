import { redirect } from 'next/navigation';

/** The console opens on the fleet. */
export default function Page() {
  redirect('/fleet');
}
