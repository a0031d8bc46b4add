import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Metrics } from '@agentfleet/infra-observability';
import type { Response } from 'express';
import { Public } from '../common/auth.decorators';
import { METRICS_REGISTRY } from '../tokens';

@ApiTags('health')
@Public()
@Controller()
export class MetricsController {
  constructor(@Inject(METRICS_REGISTRY) private readonly metrics: Metrics) {}

  @Get('metrics')
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary:
      'Prometheus metrics of this replica (text exposition format); queue and fleet gauges come from the reaper leader only',
  })
  async scrape(@Res() res: Response): Promise<void> {
    const body = await this.metrics.expose();
    res.setHeader('content-type', this.metrics.contentType);
    res.status(200).send(body);
  }
}
