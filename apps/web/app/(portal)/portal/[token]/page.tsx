import { PortalPage } from '../../../../src/portal/portal-page';

// Live run state for the link's holder: never cached, never prerendered.
export const dynamic = 'force-dynamic';

export default async function Page({ params }: { params: Promise<{ token: string }> }) {
  const { token } = await params;
  return <PortalPage token={decodeURIComponent(token)} />;
}
