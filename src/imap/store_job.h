/* store_job: runs a command's blocking store call on the store pool.
 *
 * Store writes fsync (message files, directories, the SQLite index), and
 * a slow disk must not stall the other sessions of a network loop
 * (DESIGN.md). A write command therefore parses and validates on the loop
 * thread, then hands a job to store_job_run() and returns its CMD_ASYNC:
 *
 *   work(job)      pool thread: the store call only. It may use the
 *                  store_user and the store_mailbox handle it was given,
 *                  never the session, its view or its connection.
 *   reply(s, job)  loop thread, session still open: view updates, the
 *                  untagged responses and the tagged reply.
 *   free_fn(job)   loop thread, always, last.
 *
 * Why the handle and the command are safe meanwhile: the session is paused
 * (in_command) while the job runs, so no other command of it touches the
 * store_mailbox ("one thread at a time", store.h) or the view, and the
 * parser is not fed, so the parsed command (tag, arguments, APPEND's
 * literals in the parser's memory) stays valid until session_cmd_done().
 * When the connection closes first, the session stays allocated until the
 * job ends (session_job_begin/end); reply is then skipped and the results
 * are freed. */
#ifndef ROOST_IMAP_STORE_JOB_H
#define ROOST_IMAP_STORE_JOB_H

#include "imap/session.h"
#include "net/loop.h"

typedef void store_job_work_fn(void *job);
typedef void store_job_reply_fn(struct session *s, void *job);

/* Queues work on s->ctx->store_pool; reply, free_fn and then
 * session_cmd_done() follow on the session's loop. Returns CMD_ASYNC for
 * the handler to return. */
enum cmd_result store_job_run(struct session *s, store_job_work_fn *work,
			      store_job_reply_fn *reply, loop_fn *free_fn, void *job);

#endif
