// Why a record is bad. The runner dead-letters these (with the message as the reason) instead of retrying;
// any other error is treated as an outage and retried.

/** The bytes are not a message we can decode (framing, unknown schema id, corrupt Avro). */
export class DecodeError extends Error {
  constructor(
    message: string,
    readonly schemaId: number | null,
  ) {
    super(message);
    this.name = 'DecodeError';
  }
}

/** Decoded fine but breaks a domain rule. */
export class ValidationError extends Error {
  constructor(
    message: string,
    readonly schemaId: number | null,
  ) {
    super(message);
    this.name = 'ValidationError';
  }
}

/** Thrown by a processor for a record that can never succeed (e.g. a value the store rejects). */
export class RecordRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordRejectedError';
  }
}
