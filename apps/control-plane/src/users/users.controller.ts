import { Body, Controller, Get, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ManageUsersUseCase } from '@agentfleet/access';
import { createUserSchema, updateUserSchema } from '@agentfleet/contracts';
import type { Principal } from '@agentfleet/domain';
import { createZodDto } from 'nestjs-zod';
import { ClientIp, CurrentPrincipal, RequireScopes } from '../common/auth.decorators';
import { PaginationQueryDto, UuidParamDto } from '../common/common.dto';

class CreateUserDto extends createZodDto(createUserSchema) {}
class UpdateUserDto extends createZodDto(updateUserSchema) {}

@ApiTags('users')
@ApiBearerAuth()
@Controller('api/v1/users')
export class UsersController {
  constructor(private readonly users: ManageUsersUseCase) {}

  @Post()
  @RequireScopes('users:write')
  create(@CurrentPrincipal() p: Principal, @Body() body: CreateUserDto, @ClientIp() ip: string | null) {
    return this.users.create(p, body, ip);
  }

  @Get()
  @RequireScopes('users:read')
  list(@CurrentPrincipal() p: Principal, @Query() q: PaginationQueryDto) {
    return this.users.list(p, q);
  }

  @Get(':id')
  @RequireScopes('users:read')
  get(@CurrentPrincipal() p: Principal, @Param() { id }: UuidParamDto) {
    return this.users.get(p, id);
  }

  @Patch(':id')
  @RequireScopes('users:write')
  update(
    @CurrentPrincipal() p: Principal,
    @Param() { id }: UuidParamDto,
    @Body() body: UpdateUserDto,
    @ClientIp() ip: string | null,
  ) {
    return this.users.update(p, id, body, ip);
  }
}
