/** Formats the reply POST: the four fields of the contract, always present, empty when unused. */
export function replyForm(
  part: { text: string; images: string[]; file?: string },
  audioUrl: string | undefined,
): string {
  return new URLSearchParams({
    text: part.text,
    // Several images travel as one field, comma-separated; a comma inside a URL is percent-encoded first.
    images: part.images.map((url) => url.replaceAll(',', '%2C')).join(','),
    file: part.file ?? '',
    audio: audioUrl ?? '',
  }).toString();
}
