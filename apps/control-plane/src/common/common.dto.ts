import { paginationQuerySchema, uuidParamSchema } from '@agentfleet/contracts';
import { createZodDto } from 'nestjs-zod';

export class PaginationQueryDto extends createZodDto(paginationQuerySchema) {}
export class UuidParamDto extends createZodDto(uuidParamSchema) {}
