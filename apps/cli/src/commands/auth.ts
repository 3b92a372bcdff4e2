// Signing in and out, the first administrator, and user management. Passwords are read without
// echo from the terminal, or from standard input when it is not one (scripts: `… < password-file`);
// they never travel in a flag, where `ps` and shell history would show them.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Role } from '@rollgate/domain';
import type { CommandContext, JsonFlag } from '../context';
import { forgetSession, saveSession } from '../credentials';
import { CliError } from '../errors';

/** What the auth commands need besides the usual context: where sessions are saved. */
export interface AuthContext extends CommandContext {
  configDir: string | undefined;
  readPassword(prompt: string): Promise<string>;
}

export async function loginCommand(
  ctx: AuthContext,
  flags: JsonFlag & { username: string; printToken?: boolean },
): Promise<number> {
  const password = await ctx.readPassword(`Password for ${flags.username} at ${ctx.url}: `);
  const { token, user, expiresAt } = await ctx.client.auth.login.mutate({
    username: flags.username,
    password,
  });
  if (flags.printToken) {
    // For scripts: ROLLGATE_TOKEN=$(rollgate login --username ci --print-token < pw)
    process.stdout.write(`${token}\n`);
    return 0;
  }
  if (!ctx.configDir) {
    throw new CliError(
      'cannot save the session: neither XDG_CONFIG_HOME nor HOME is set. Use --print-token and ROLLGATE_TOKEN instead.',
    );
  }
  await saveSession(ctx.configDir, ctx.url, { token, username: user.username, expiresAt });
  if (flags.json) ctx.out.json({ user, expiresAt });
  else
    ctx.out.print(
      `Signed in to ${ctx.url} as ${user.username} (${user.role}) until ${new Date(expiresAt).toISOString()}.`,
    );
  return 0;
}

export async function logoutCommand(ctx: AuthContext, flags: JsonFlag): Promise<number> {
  await ctx.client.auth.logout.mutate().catch(() => undefined);
  if (ctx.configDir) await forgetSession(ctx.configDir, ctx.url);
  if (!flags.json) ctx.out.print(`Signed out of ${ctx.url}.`);
  return 0;
}

export async function whoamiCommand(ctx: CommandContext, flags: JsonFlag): Promise<number> {
  const user = await ctx.client.auth.whoami.query();
  if (flags.json) ctx.out.json(user);
  else ctx.out.print(`${user.username} (${user.role}) at ${ctx.url}`);
  return 0;
}

/**
 * The coordinator's one-time bootstrap secret (docs/adr/0020): from --bootstrap-secret-file, else
 * from the data directory when this is the coordinator's machine. Undefined when there is none:
 * the coordinator then says what it needs (or that an administrator already exists).
 */
async function readBootstrapSecret(flags: {
  bootstrapSecretFile?: string;
  dataDir: string;
}): Promise<string | undefined> {
  const file = flags.bootstrapSecretFile ?? join(flags.dataDir, 'bootstrap-secret');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (flags.bootstrapSecretFile === undefined) return undefined;
    throw new CliError(
      `cannot read the bootstrap secret ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}. It is in the coordinator's data directory (bootstrap-secret, mode 0600); run as a user who can read it.`,
    );
  }
  const secret = text.trim();
  if (!/^[A-Za-z0-9_-]{32,200}$/.test(secret)) {
    throw new CliError(
      `${file} does not hold a bootstrap secret; it is the coordinator's data-directory file "bootstrap-secret".`,
    );
  }
  return secret;
}

export async function adminInitCommand(
  ctx: AuthContext,
  flags: JsonFlag & { username: string; bootstrapSecretFile?: string; dataDir: string },
): Promise<number> {
  const bootstrapSecret = await readBootstrapSecret(flags);
  const password = await ctx.readPassword(`New password for ${flags.username} (12 characters or more): `);
  const user = await ctx.client.auth.bootstrap.mutate({
    username: flags.username,
    password,
    ...(bootstrapSecret ? { bootstrapSecret } : {}),
  });
  if (flags.json) ctx.out.json(user);
  else
    ctx.out.print(
      `Created the first administrator, ${user.username}. Sign in with: rollgate login --username ${user.username}`,
    );
  return 0;
}

export async function usersListCommand(ctx: CommandContext, flags: JsonFlag): Promise<number> {
  const users = await ctx.client.users.list.query();
  if (flags.json) {
    ctx.out.json(users);
    return 0;
  }
  ctx.out.print(`${'USER'.padEnd(24)} ${'ROLE'.padEnd(9)} ${'CREATED BY'.padEnd(20)} STATE`);
  for (const u of users) {
    ctx.out.print(
      `${u.username.padEnd(24)} ${u.role.padEnd(9)} ${u.createdBy.padEnd(20)} ${u.disabledAt ? 'disabled' : 'active'}`,
    );
  }
  return 0;
}

export async function usersCreateCommand(
  ctx: AuthContext,
  flags: JsonFlag & { username: string; role: Role },
): Promise<number> {
  const password = await ctx.readPassword(`Password for the new user ${flags.username}: `);
  const user = await ctx.client.users.create.mutate({ username: flags.username, role: flags.role, password });
  if (flags.json) ctx.out.json(user);
  else ctx.out.print(`Created ${user.username} (${user.role}).`);
  return 0;
}

export async function usersSetRoleCommand(
  ctx: CommandContext,
  flags: JsonFlag & { username: string; role: Role },
): Promise<number> {
  const user = await ctx.client.users.setRole.mutate({ username: flags.username, role: flags.role });
  if (flags.json) ctx.out.json(user);
  else ctx.out.print(`${user.username} is now ${user.role}.`);
  return 0;
}

export async function usersDisableCommand(
  ctx: CommandContext,
  flags: JsonFlag & { username: string },
): Promise<number> {
  const user = await ctx.client.users.disable.mutate({ username: flags.username });
  if (flags.json) ctx.out.json(user);
  else ctx.out.print(`${user.username} is disabled; their sessions ended.`);
  return 0;
}
