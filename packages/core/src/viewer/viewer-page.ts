/** What the viewer page needs to know about the capture it shows; flamegraph.js reads it as JSON. */
export interface ViewerConfig {
  id: string
  kind: 'cpu' | 'heap'
  title: string
  /** Same-origin URL of the native profile, carrying its own short-lived `?token=`. */
  profileUrl: string
  status: string
  service: string
  startedAt: string
  /** The trigger's type and reason, for the page's summary line. */
  trigger: string
}

export interface ViewerPageParts {
  config: ViewerConfig
  scriptUrl: string
  stylesheetUrl: string
}

/**
 * Fills flamegraph.html's `{{…}}` placeholders in one pass, so that text from a capture (a reason that reads
 * `{{config}}`) is never expanded itself. Unknown placeholders are left alone.
 */
export function fillViewerPage(template: string, parts: ViewerPageParts): string {
  const values: Record<string, string> = {
    title: escapeHtml(parts.config.title),
    script: escapeHtml(parts.scriptUrl),
    stylesheet: escapeHtml(parts.stylesheetUrl),
    config: jsonForScriptBlock(parts.config),
  }
  // a function replacement: a replacement string would expand `$&` and friends found in the values
  return template.replace(/\{\{(\w+)\}\}/g, (whole, name: string) =>
    Object.hasOwn(values, name) ? values[name]! : whole,
  )
}

/**
 * JSON that cannot end its `<script type="application/json">` block early: escaping every `<` rules out
 * `</script>` and `<!--` in any case or spelling, and the line separators stay escaped for older parsers.
 */
export function jsonForScriptBlock(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029')
}

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
}
