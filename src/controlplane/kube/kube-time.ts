/**
 * Timestamps as the API server writes them. `metav1.Time` has second precision; sending the
 * same precision keeps "did it change?" comparisons against stored objects exact.
 */

/** RFC 3339 in UTC with whole seconds, e.g. `2026-01-01T00:00:00Z`. */
export function kubeTime(wallMs: number): string {
  return new Date(wallMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
