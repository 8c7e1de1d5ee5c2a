/* store_maildir_quota: a user's quota in the maildir backend.
 *
 * Usage (bytes = sum of RFC822.SIZE, and the message count, over every
 * mailbox) lives in the index's quota_usage row, which triggers on the
 * messages table keep equal to the rows in the same transaction as every
 * change (store_maildir_index.c); it is recomputed from the rows each
 * time the index is opened. So usage is exactly what the committed rows
 * say, survives restarts, and a rolled-back transaction leaves it alone.
 *
 * Limits (0 = unlimited) are per user, in atomics of struct smd_user, set
 * by store_user_open's lookup or store_user_set_quota. The checks run
 * under the user lock, where appends and copies hold it from their check
 * to their commit, so no other change of the user's mail comes between
 * a check and the change it allowed. */
#include "store/store_maildir.h"

#include <stdatomic.h>

#include "lib/log.h"

/* The committed usage. User lock held. */
static enum store_err smq_usage(struct smd_user *u, uint64_t *bytes_r, uint64_t *messages_r)
{
	sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_QUOTA_USAGE);
	int rc = sqlite3_step(s);
	int64_t bytes = 0, messages = 0;
	if (rc == SQLITE_ROW) {
		bytes = sqlite3_column_int64(s, 0);
		messages = sqlite3_column_int64(s, 1);
	}
	store_maildir_index_done(u, s);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? STORE_ERR_CORRUPT
		                         : store_maildir_index_err(u, rc, "quota");
	*bytes_r = bytes > 0 ? (uint64_t)bytes : 0;
	*messages_r = messages > 0 ? (uint64_t)messages : 0;
	return STORE_OK;
}

/* Whether used + add stays within limit (0 = unlimited), without overflow. */
static bool smq_within(uint64_t used, uint64_t add, uint64_t limit)
{
	return limit == 0 || (add <= limit && used <= limit - add);
}

enum store_err store_maildir_quota_fits(struct smd_user *u, uint64_t add_bytes,
                                        uint64_t add_messages)
{
	uint64_t lb = atomic_load(&u->quota_bytes), lm = atomic_load(&u->quota_messages);
	if (lb == 0 && lm == 0)
		return STORE_OK;
	uint64_t bytes = 0, messages = 0;
	enum store_err err = smq_usage(u, &bytes, &messages);
	if (err != STORE_OK)
		return err;
	if (smq_within(bytes, add_bytes, lb) && smq_within(messages, add_messages, lm))
		return STORE_OK;
	log_info("event=quota_exceeded user=%s used_bytes=%llu add_bytes=%llu limit_bytes=%llu "
	         "messages=%llu add_messages=%llu limit_messages=%llu",
	         u->name, (unsigned long long)bytes, (unsigned long long)add_bytes,
	         (unsigned long long)lb, (unsigned long long)messages,
	         (unsigned long long)add_messages, (unsigned long long)lm);
	return STORE_ERR_OVERQUOTA;
}

void store_maildir_quota_set(struct store_user *pu, uint64_t bytes, uint64_t messages)
{
	struct smd_user *u = store_maildir_user_of(pu);
	atomic_store(&u->quota_bytes, bytes);
	atomic_store(&u->quota_messages, messages);
}

enum store_err store_maildir_quota_check(struct store_user *pu, uint64_t size, bool *too_big_r)
{
	struct smd_user *u = store_maildir_user_of(pu);
	uint64_t lb = atomic_load(&u->quota_bytes);
	*too_big_r = lb != 0 && size > lb;
	pthread_mutex_lock(&u->lock);
	enum store_err err = store_maildir_quota_fits(u, size, 1);
	pthread_mutex_unlock(&u->lock);
	return err;
}

enum store_err store_maildir_quota_get(struct store_user *pu, uint64_t *used_bytes_r,
                                       uint64_t *limit_bytes_r, uint64_t *messages_r,
                                       uint64_t *limit_messages_r)
{
	struct smd_user *u = store_maildir_user_of(pu);
	*limit_bytes_r = atomic_load(&u->quota_bytes);
	*limit_messages_r = atomic_load(&u->quota_messages);
	pthread_mutex_lock(&u->lock);
	enum store_err err = smq_usage(u, used_bytes_r, messages_r);
	pthread_mutex_unlock(&u->lock);
	return err;
}
