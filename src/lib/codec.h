/* codec: digit values shared by the base64, modified-UTF-7, quoted-
 * printable and percent decoders (SASL, mailbox names, MIME). The
 * decoders themselves stay with their users: each has its own rules for
 * padding, whitespace and errors. */
#ifndef ROOST_LIB_CODEC_H
#define ROOST_LIB_CODEC_H

/* The base64 alphabet of RFC 4648 (index 62 '+', 63 '/'). Modified UTF-7
 * (RFC 3501 §5.1.3) uses ',' for 63. */
extern const char codec_base64_alphabet[65];

/* Value 0..63 of a base64 digit whose 63rd digit is c63 ('/' or ','),
 * or -1 (also for '='). */
int codec_base64_value(unsigned char c, unsigned char c63);
/* Value 0..15 of a hex digit (either case), or -1. */
int codec_hex_value(unsigned char c);

#endif
