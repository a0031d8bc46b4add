import { createApiKeySchema } from '@agentfleet/contracts';
import { createZodDto } from 'nestjs-zod';

export class CreateApiKeyDto extends createZodDto(createApiKeySchema) {}
