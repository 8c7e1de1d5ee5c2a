/* store_job: store calls on the store pool, replies on the loop (see
 * store_job.h). */
#include "imap/store_job.h"

#include <stdlib.h>

#include "lib/xalloc.h"

struct store_job {
	struct session *s;
	store_job_work_fn *work;
	store_job_reply_fn *reply;
	loop_fn *free_fn;
	void *job;
};

/* Pool thread: touches only the command's own job. */
static void store_job_work(void *arg)
{
	struct store_job *j = arg;
	j->work(j->job);
}

/* Loop thread, after store_job_work. */
static void store_job_done(void *arg)
{
	struct store_job *j = arg;
	struct session *s = j->s;
	bool alive = session_job_end(s);
	if (alive)
		j->reply(s, j->job);
	j->free_fn(j->job);
	free(j);
	if (alive)
		session_cmd_done(s);
}

enum cmd_result store_job_run(struct session *s, store_job_work_fn *work,
			      store_job_reply_fn *reply, loop_fn *free_fn, void *job)
{
	struct store_job *j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->work = work;
	j->reply = reply;
	j->free_fn = free_fn;
	j->job = job;
	session_job_begin(s);
	workpool_submit(s->ctx->store_pool, conn_loop(s->conn), store_job_work, store_job_done, j);
	return CMD_ASYNC;
}
