import { createJobSchema } from './execution';
import { BUILTIN_ROLES } from './scopes';
import { plainEnvOf, putSecretSchema, secretNameParamSchema, secretRefsOf } from './secrets';

const fieldsOf = (r: { success: boolean; error?: { issues: { path: PropertyKey[] }[] } }) =>
  (r.error?.issues ?? []).map((i) => i.path.map(String).join('.'));

describe('secret names and values', () => {
  it('accepts environment-variable names', () => {
    for (const name of ['OPENAI_KEY', '_x', 'a1', 'A'.repeat(128)])
      expect(secretNameParamSchema.safeParse({ name }).success).toBe(true);
  });

  it('refuses names that are not environment-variable names', () => {
    for (const name of ['', '1KEY', 'MY-KEY', 'my.key', 'KEY ', 'ä', 'A'.repeat(129), '../etc'])
      expect(fieldsOf(secretNameParamSchema.safeParse({ name }))).toEqual(['name']);
  });

  it('refuses an empty value, a value past 32 KiB and unknown fields', () => {
    expect(fieldsOf(putSecretSchema.safeParse({ value: '' }))).toEqual(['value']);
    expect(fieldsOf(putSecretSchema.safeParse({ value: 'x'.repeat(32_769) }))).toEqual(['value']);
    expect(putSecretSchema.safeParse({ value: 'v', name: 'X' }).success).toBe(false);
    expect(putSecretSchema.parse({ value: 'v', description: 'the key' })).toEqual({
      value: 'v',
      description: 'the key',
    });
  });
});

describe('job env values: a string or a secret reference', () => {
  const env = (e: unknown) => createJobSchema.safeParse({ command: ['true'], env: e });

  it('accepts plain strings and {"secret": NAME} side by side', () => {
    const r = env({ MODE: 'test', API_KEY: { secret: 'OPENAI_KEY' } });
    expect(r.success && r.data.env).toEqual({ MODE: 'test', API_KEY: { secret: 'OPENAI_KEY' } });
  });

  it('refuses a malformed reference naming the variable at fault', () => {
    expect(fieldsOf(env({ API_KEY: { secret: 'not-a-name' } }))[0]).toMatch(/^env\.API_KEY/);
    expect(fieldsOf(env({ API_KEY: { secret: 'OK', value: 'leak' } }))[0]).toMatch(/^env\.API_KEY/);
    expect(fieldsOf(env({ API_KEY: { name: 'OK' } }))[0]).toMatch(/^env\.API_KEY/);
    expect(fieldsOf(env({ API_KEY: 42 }))[0]).toMatch(/^env\.API_KEY/);
  });

  it('splits an env into the plain values a payload may carry and the references resolved at start', () => {
    const e = { MODE: 'test', API_KEY: { secret: 'OPENAI_KEY' }, DB: { secret: 'DB_URL' } };
    expect(plainEnvOf(e)).toEqual({ MODE: 'test' });
    expect(secretRefsOf(e)).toEqual({ API_KEY: 'OPENAI_KEY', DB: 'DB_URL' });
    expect(secretRefsOf({ MODE: 'x' })).toEqual({});
  });
});

describe('secret scopes', () => {
  it('admins and operators manage secrets, editors read their names, viewers neither', () => {
    expect(BUILTIN_ROLES.admin.permissions).toEqual(
      expect.arrayContaining(['secrets:read', 'secrets:write']),
    );
    expect(BUILTIN_ROLES.operator.permissions).toEqual(
      expect.arrayContaining(['secrets:read', 'secrets:write']),
    );
    expect(BUILTIN_ROLES.editor.permissions).toContain('secrets:read');
    expect(BUILTIN_ROLES.editor.permissions).not.toContain('secrets:write');
    expect(BUILTIN_ROLES.viewer.permissions.filter((s) => s.startsWith('secrets:'))).toEqual([]);
  });
});
