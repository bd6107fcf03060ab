import { HttpStatus } from '@nestjs/common';
import { KeybridgeError } from './keybridge.error.js';

export class InvalidArgumentError extends KeybridgeError {
  static override readonly code = 'invalid_argument' as const;
  declare readonly code: 'invalid_argument';
  constructor(message: string) {
    super(message, HttpStatus.BAD_REQUEST);
  }
}

export class KeyNotFoundError extends KeybridgeError {
  static override readonly code = 'key_not_found' as const;
  declare readonly code: 'key_not_found';
  constructor(id?: string) {
    super(
      id === undefined ? 'No API key has that id.' : `No API key has the id "${id}".`,
      HttpStatus.NOT_FOUND,
    );
  }
}

export class KeyConflictError extends KeybridgeError {
  static override readonly code = 'key_conflict' as const;
  declare readonly code: 'key_conflict';
  constructor(message: string) {
    super(message, HttpStatus.CONFLICT);
  }
}
