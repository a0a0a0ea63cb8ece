/**
 * A plain file name from a server, safe to create in the current directory: letters, digits, `.`, `_`, `-`,
 * not starting with a dot. Anything else (a path, `..`, a control character, a dotfile) is refused rather than
 * cleaned up, so that a hostile or broken server cannot choose where a file lands.
 */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/

/** The `filename` of a Content-Disposition header when it is a safe plain name; `undefined` otherwise. */
export function dispositionFileName(header: string | null): string | undefined {
  if (header === null) return undefined
  const extended = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(header)?.[1]
  let name: string | undefined
  if (extended !== undefined) {
    try {
      name = decodeURIComponent(extended.trim())
    } catch {
      name = undefined
    }
  }
  name ??= /filename\s*=\s*(?:"([^"]*)"|([^;\s]+))/
    .exec(header)
    ?.slice(1)
    .find((part) => part !== undefined)
  return name !== undefined && SAFE_NAME.test(name) ? name : undefined
}
