/* import_dovecot: parsers for the metadata files of a Dovecot Maildir++
 * tree (`roost import-maildir`). Pure functions over bytes: no I/O, so
 * they are unit-tested on their own.
 *
 *   dovecot-uidlist   "3 V<uidvalidity> N<nextuid> G<guid> ..." then one
 *                     line per message "<uid> [<ext>...] :<base name>";
 *                     version 1: "1 <uidvalidity> <nextuid>", "<uid> <name>"
 *   dovecot-keywords  "<n> <keyword>" lines; keyword n is the letter 'a'+n
 *                     in the ":2,<info>" suffix of a file name
 *   subscriptions     "V\t2\n\n" then one name a line, hierarchy levels
 *                     separated by tabs (each level tab-escaped); without
 *                     the header (version 1) levels are separated by '.'
 * Names come out as Dovecot stores them (modified UTF-7 unless Dovecot
 * was told otherwise) with '/' between levels: the caller converts. */
#ifndef ROOST_CLI_IMPORT_DOVECOT_H
#define ROOST_CLI_IMPORT_DOVECOT_H

#include <stddef.h>
#include <stdint.h>

struct buf;

/* Keywords a Maildir info suffix can name: 'a'..'z'. */
#define IMPORT_DOVECOT_KEYWORDS 26

struct import_dovecot_uid {
	uint32_t uid;
	char *base; /* file name up to ':' */
};

struct import_dovecot_uidlist {
	uint32_t uidvalidity;         /* 0 when the header has none */
	uint32_t nextuid;             /* as in the header: above every UID handed out */
	struct import_dovecot_uid *v; /* sorted by base name */
	size_t n;
};

/* Parses a dovecot-uidlist file. Returns 0, or -1 with a static reason
 * (unknown version, bad header); bad record lines are skipped. nextuid is
 * raised above the largest UID listed. Free with ..._uidlist_free. */
int import_dovecot_uidlist_parse(const char *data, size_t len, struct import_dovecot_uidlist *l_r,
                                 const char **error_r);
void import_dovecot_uidlist_free(struct import_dovecot_uidlist *l);
/* The UID listed for a file name (compared up to its ':'), 0 when none. */
uint32_t import_dovecot_uidlist_find(const struct import_dovecot_uidlist *l, const char *name);

/* Parses dovecot-keywords into names[0..IMPORT_DOVECOT_KEYWORDS) (malloc'd,
 * NULL where unset; lines with other numbers or invalid keyword atoms are
 * skipped). Free with ..._keywords_free. */
void import_dovecot_keywords_parse(const char *data, size_t len,
                                   char *names[IMPORT_DOVECOT_KEYWORDS]);
void import_dovecot_keywords_free(char *names[IMPORT_DOVECOT_KEYWORDS]);

/* The store flags (enum store_flag) of a Maildir file name's ":2,<info>"
 * suffix (D draft, F flagged, R answered, S seen, T deleted); its
 * lower-case letters are appended to keywords_out as space-separated
 * names (letters without a name are ignored). */
uint32_t import_dovecot_info(const char *name, char *const names[IMPORT_DOVECOT_KEYWORDS],
                             struct buf *keywords_out);

/* Parses a subscriptions file into *names_r (malloc'd array of malloc'd
 * names, '/' between levels). Free with ..._names_free. */
void import_dovecot_subscriptions_parse(const char *data, size_t len, char ***names_r, size_t *n_r);
void import_dovecot_names_free(char **names, size_t n);

/* The mailbox name of a Maildir++ folder directory (".a.b" -> "a/b"),
 * malloc'd; NULL when dir is not a folder (no leading '.', "." or "..",
 * an empty level). */
char *import_dovecot_dir_name(const char *dir);

#endif
