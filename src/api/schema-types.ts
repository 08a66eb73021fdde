/**
 * The vocabulary of the one schema source (`schema.ts`). A `Schema` is an OpenAPI v3 structural schema as the
 * CRD wants it, plus what only TypeScript needs (type names, and each CEL rule's mirror for offline checks).
 * `crd.ts` turns it into the CRD YAML, `codegen.ts` into TypeScript types, `validate.ts` into a validator.
 */

/** A CEL rule (`x-kubernetes-validations`) and the same rule in TypeScript. */
export interface Rule {
  /** The CEL expression the API server evaluates against `self` (this node, after defaulting). */
  rule: string;
  /** Shown to the user: say what is wrong and how to fix it (also the fallback when messageExpression fails). */
  message: string;
  /** CEL that builds the message quoting the bad value (the API server otherwise shows only its type). */
  messageExpression?: string;
  /** The same text in TypeScript; must agree with `messageExpression`. */
  messageOf?: (self: never) => string;
  /** Relative path of the field to blame, e.g. `.command` (defaults to this node). */
  fieldPath?: string;
  reason?: 'FieldValueRequired' | 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueDuplicate';
  /** The same predicate in TypeScript, used by `render` and the controller; must agree with `rule`. */
  check: (self: never) => boolean;
}

export type SchemaType = 'object' | 'array' | 'string' | 'integer' | 'boolean' | 'number';

export interface Schema {
  type?: SchemaType;
  /** Shown by `kubectl explain`; required everywhere except `metadata`, where the API server forbids it. */
  description?: string;
  properties?: Record<string, Schema>;
  required?: readonly string[];
  items?: Schema;
  /** A map: every value follows this schema. */
  additionalProperties?: Schema;
  enum?: readonly string[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  pattern?: string;
  /** OpenAPI format, as upstream Kubernetes types carry it (int32, int64). */
  format?: string;
  rules?: readonly Rule[];
  /** x-kubernetes-int-or-string (resource quantities). */
  intOrString?: boolean;
  /** x-kubernetes-preserve-unknown-fields: an object whose fields are not ours to check (only `metadata`). */
  preserveUnknownFields?: boolean;
  listType?: 'atomic' | 'set' | 'map';
  listMapKeys?: readonly string[];
  /** x-kubernetes-map-type, as upstream Kubernetes types carry it (how server-side apply merges the object). */
  mapType?: 'atomic' | 'granular';
  /** Codegen: the interface name for this object. */
  tsName?: string;
  /** Codegen: use this TypeScript type (from `@kubernetes/client-node`, imported as `k8s`). */
  tsType?: string;
}
