import { type ArgumentMetadata, BadRequestException, Injectable, type PipeTransform } from '@nestjs/common';
import { createZodValidationPipe } from 'nestjs-zod';
import type { ZodError } from 'zod';

/** Turns zod issues into `errors: [{ field, message }]`, naming the field at fault (or the unknown ones). */
export function validationErrors(error: ZodError) {
  return error.issues.map((i) => {
    const base = i.path.map(String).join('.');
    if (i.code === 'unrecognized_keys') {
      const keys = (i as unknown as { keys: string[] }).keys;
      return {
        field: keys.map((k) => (base ? `${base}.${k}` : k)).join(', '),
        message: `unknown field${keys.length > 1 ? 's' : ''}: ${keys.join(', ')}`,
      };
    }
    return { field: base || '(body)', message: i.message };
  });
}

function invalid(errors: { field: string; message: string }[]) {
  return new BadRequestException({
    error: 'invalid',
    message: errors.map((e) => `${e.field}: ${e.message}`).join('; '),
    errors,
  });
}

const ZodPipe = createZodValidationPipe({
  createValidationException: (error: unknown) => invalid(validationErrors(error as ZodError)),
});

/** Path of the first string (value or key) holding a NUL character, or undefined. */
function nulAt(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (!value || typeof value !== 'object') return undefined;
  for (const [k, v] of Object.entries(value)) {
    const at = path ? `${path}.${k}` : k;
    if (k.includes('\u0000')) return at;
    const found = nulAt(v, at);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * The zod DTO validation, then one rule zod schemas do not state: no NUL character anywhere. PostgreSQL
 * cannot store U+0000 in text or jsonb, so without this check such input reached the database and was
 * answered with a 500 instead of a 400 naming the field.
 */
@Injectable()
export class ValidationPipe implements PipeTransform {
  private readonly zod = new ZodPipe();

  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    const parsed: unknown = this.zod.transform(value, metadata);
    if (metadata.type !== 'custom') {
      const at = nulAt(parsed, metadata.type === 'body' ? '' : (metadata.data ?? ''));
      if (at !== undefined)
        throw invalid([
          { field: at || `(${metadata.type})`, message: 'must not contain NUL (\\u0000) characters' },
        ]);
    }
    return parsed;
  }
}
