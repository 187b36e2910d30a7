/**
 * Field paths in Kubernetes notation (`spec.fallbacks[0].to[1].upstream`), for policy problems
 * and for a refused snapshot alike. Apart from validate-policy.ts so that the sidecar, which
 * reports snapshot problems, does not load the resource's schemas to name a field.
 */

/** Renders a zod path as a Kubernetes field path. */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else {
      const name = String(segment);
      out += /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)
        ? `${out === '' ? '' : '.'}${name}`
        : `[${JSON.stringify(name)}]`;
    }
  }
  return out;
}
