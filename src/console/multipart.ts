/**
 * A small reader for `multipart/form-data` bodies (the import form's file
 * upload): text fields and file contents by field name, as UTF-8. The body is
 * already in memory within the route's body limit.
 */

/** The fields of a multipart body; undefined when it is not well formed. */
export function readMultipart(
  body: Buffer,
  contentType: string,
): Record<string, string> | undefined {
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) return undefined;
  const delimiter = Buffer.from(`--${boundary}`, "latin1");
  const fields = Object.create(null) as Record<string, string>;
  let at = body.indexOf(delimiter);
  if (at < 0) return undefined;
  for (;;) {
    at += delimiter.length;
    // "--" after a delimiter ends the body.
    if (body[at] === 0x2d && body[at + 1] === 0x2d) return fields;
    if (body[at] === 0x0d && body[at + 1] === 0x0a) at += 2;
    else return undefined;
    const headerEnd = body.indexOf("\r\n\r\n", at, "latin1");
    if (headerEnd < 0) return undefined;
    const headers = body.toString("utf8", at, headerEnd);
    const next = body.indexOf(Buffer.concat([Buffer.from("\r\n", "latin1"), delimiter]), headerEnd);
    if (next < 0) return undefined;
    const name = /content-disposition:[^\r\n]*;\s*name="([^"]*)"/i.exec(headers)?.[1];
    if (name !== undefined && !Object.hasOwn(fields, name)) {
      fields[name] = body.toString("utf8", headerEnd + 4, next);
    }
    at = next + 2;
  }
}
