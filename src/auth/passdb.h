/* passdb: users and their password hashes from a passwd-file.
 *
 * The file uses Dovecot's passwd-file format, one user per line:
 *   user:{SCHEME}hash[:uid:gid:gecos:home:shell:extra]
 * Blank lines and lines starting with '#' are ignored; fields after the
 * second are kept verbatim when the file is rewritten. User names are
 * case-sensitive, 1..255 bytes, with no ':', control characters or
 * whitespace.
 *
 * Lookups are done by auth workers; the table is immutable once loaded
 * and is replaced whole on reload (SIGHUP), so readers need only hold a
 * reference (passdb_ref/passdb_unref) while they use it. */
#ifndef ROOST_AUTH_PASSDB_H
#define ROOST_AUTH_PASSDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct passdb;

/* Loads path. Returns a passdb with one reference, or NULL with a
 * "file:line: reason" message in *error_r (static or thread-local
 * storage, valid until the next call). A missing file is an error. */
struct passdb *passdb_load(const char *path, const char **error_r);
void passdb_ref(struct passdb *db);
void passdb_unref(struct passdb **db);

/* The stored "{SCHEME}hash" of user, or NULL if there is no such user.
 * Valid while the caller holds a reference. */
const char *passdb_lookup(const struct passdb *db, const char *user);
size_t passdb_count(const struct passdb *db);

/* The user's quota limits from Dovecot's extra field
 * "userdb_quota_rule=*:storage=<size>[:messages=<n>]" (or "quota_rule=";
 * storage without a unit is KiB, suffixes b/k/m/g/t; bytes=<n> is bytes;
 * 0, "none" or "unlimited" = no limit). Sets only the values the rule
 * gives and returns which (PASSDB_QUOTA_* bits; 0 when the user has no
 * rule or does not exist), or -1 for a rule that cannot be parsed. */
#define PASSDB_QUOTA_BYTES 1
#define PASSDB_QUOTA_MESSAGES 2
int passdb_lookup_quota(const struct passdb *db, const char *user, uint64_t *bytes_r,
			uint64_t *messages_r);

/* Whether name is acceptable as a user name (see above). */
bool passdb_user_name_valid(const char *name);

/* Editing the file for the CLI (not used by the server). Each rewrites the
 * file atomically: write a temporary file in the same directory with the
 * original's mode (0600 for a new file), fsync, rename over, fsync the
 * directory. They return 0, or -1 with *error_r set.
 *   passdb_file_set: adds user or replaces its hash (keeps extra fields);
 *     when must_exist/must_not_exist is set, fails if that is not so.
 *   passdb_file_delete: removes user; fails if absent. */
int passdb_file_set(const char *path, const char *user, const char *hash, bool must_exist,
		    bool must_not_exist, const char **error_r);
int passdb_file_delete(const char *path, const char *user, const char **error_r);

#endif
