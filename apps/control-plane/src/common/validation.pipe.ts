import { BadRequestException } from '@nestjs/common';
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

export const ValidationPipe = createZodValidationPipe({
  createValidationException: (error: unknown) => {
    const errors = validationErrors(error as ZodError);
    return new BadRequestException({
      error: 'invalid',
      message: errors.map((e) => `${e.field}: ${e.message}`).join('; '),
      errors,
    });
  },
});
