/**
 * The opening of every report page, up to its body: self-contained, its Content-Security-Policy
 * allowing inline styles and data: images only (no script, nothing fetched), readable at phone width.
 */
export function pageHead(title: string, css: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${title}</title>
<style>
${css}
</style>
</head>
`;
}
