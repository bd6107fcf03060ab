import { Body, Controller, Get, Param, Put } from '@nestjs/common';
import {
  Scopes,
  SubjectLimitsService,
  type SubjectLimitsInput,
  type SubjectLimitsView,
} from 'nestjs-keybridge';
import { requireObject } from '../request-body.util.js';

/**
 * The limits of an owner (a key's `subject`), shared by all of its keys and their tokens, for holders of
 * `keys:admin`: `PUT` sets them (fields left out are kept, `null` removes one), `GET` reads them.
 */
@Controller('subjects/:subject/limits')
@Scopes('keys:admin')
export class SubjectLimitsAdminController {
  constructor(private readonly owners: SubjectLimitsService) {}

  @Get()
  get(@Param('subject') subject: string): Promise<SubjectLimitsView> {
    return this.owners.getSubjectLimits(subject);
  }

  @Put()
  set(@Param('subject') subject: string, @Body() body: unknown): Promise<SubjectLimitsView> {
    return this.owners.setSubjectLimits(subject, requireObject(body) as SubjectLimitsInput);
  }
}
