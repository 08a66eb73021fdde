/** The Events the controller records on an McpServer (kubectl describe mcps NAME): part of the API, like conditions. */

/** What each Event reason means, for docs/mcpserver-reference.md; a unit test keeps it complete. */
export const EVENT_REASONS: ReadonlyArray<{ type: 'Normal' | 'Warning'; reason: string; meaning: string }> = [
  {
    type: 'Normal',
    reason: 'Applied',
    meaning:
      'children were updated (a spec change, drift, a rotated Secret or ConfigMap); the message lists them. Creating them has no Event: status says Progressing=Creating, and the Ready Event follows',
  },
  { type: 'Normal', reason: 'Deleted', meaning: 'children the spec no longer asks for were deleted' },
  { type: 'Normal', reason: 'Ready', meaning: 'Ready became True' },
  {
    type: 'Warning',
    reason: 'SessionKeyRepaired',
    meaning:
      "the gateway's session-key Secret lost its key or held one under 16 bytes (edited by hand): the controller wrote a new key",
  },
  {
    type: 'Warning',
    reason: 'the blocker reason',
    meaning:
      'Ready became False because of a blocker (InvalidSpec, SecretNotFound, ChildConflict, ApplyFailed, ...), or its message changed (another field refused): the same reason and message as the condition',
  },
];
