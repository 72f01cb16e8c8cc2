/*++
/* NAME
/*	test-daemon 1
/* SUMMARY
/*	unit tests of the daemons' shared skeleton (htg-daemon)
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "htg-conf.h"
#include "htg-daemon.h"
#include "htg-msg.h"
#include "htg-test.h"

static const char *const keys[] = { "temp_dir", "user", "mode", NULL };

static int has_error(struct htg_conf *conf, const char *text)
{
	for (size_t i = 0; i < htg_conf_error_count(conf); i++)
		if (strstr(htg_conf_error(conf, i), text) != NULL)
			return 1;
	return 0;
}

static void test_disk_dir(void)
{
	char dir[] = "/tmp/htg-test-daemon.XXXXXX", file[100];
	struct htg_conf *conf;
	struct statfs fs;
	FILE *fp;

	test_begin("daemon: temp_dir on disk, tmpfs refused");
	test_assert(mkdtemp(dir) != NULL);
	snprintf(file, sizeof(file), "%s/f", dir);
	fp = fopen(file, "w");
	test_assert(fp != NULL);
	if (fp != NULL)
		fclose(fp);
	conf = htg_conf_new(keys);
	if (statfs(dir, &fs) == 0 && fs.f_type != TMPFS_MAGIC) {
		htg_daemon_disk_dir(conf, "temp_dir", dir);
		test_assert(htg_conf_error_count(conf) == 0);
	}
	htg_daemon_disk_dir(conf, "temp_dir", file);
	test_assert(has_error(conf, "default: temp_dir: ") &&
		    has_error(conf, "/f is not a directory"));
	htg_daemon_disk_dir(conf, "temp_dir", "/nonexistent/htg");
	test_assert(has_error(conf, "/nonexistent/htg: No such file"));
	if (statfs("/dev/shm", &fs) == 0 && fs.f_type == TMPFS_MAGIC) {
		size_t n = htg_conf_error_count(conf);

		htg_daemon_disk_dir(conf, "temp_dir", "/dev/shm");
		test_assert(htg_conf_error_count(conf) == n + 1 &&
			    has_error(conf, "/dev/shm is on tmpfs (memory)"));
	}
	htg_conf_free(&conf);
	unlink(file);
	rmdir(dir);
	test_end();
}

static void test_conf_and_user(void)
{
	char *overrides[] = { "mode=report", "nokey=1", NULL };
	struct htg_daemon d = {
		.name = "test-daemon", .config = "/nonexistent/test-daemon.conf",
		.keys = keys, .overrides = overrides, .noverrides = 2,
	};
	struct htg_daemon_user u;
	struct htg_conf *conf;

	test_begin("daemon: config file, -o, user");
	/* the default file missing: a warning, no error */
	conf = htg_daemon_conf(&d);
	test_assert(strcmp(htg_conf_get(conf, "mode", ""), "report") == 0);
	test_assert(htg_conf_error_count(conf) == 1 &&
		    has_error(conf, "-o: unknown parameter \"nokey\""));
	htg_conf_free(&conf);
	/* the same file given with -c: an error */
	d.config_given = 1;
	d.noverrides = 1;
	conf = htg_daemon_conf(&d);
	test_assert(htg_conf_error_count(conf) == 1 &&
		    has_error(conf, "open /nonexistent/test-daemon.conf: No such"));
	test_assert(htg_conf_set(conf, "user=root", &(const char *){ NULL }) == 0);
	test_assert(htg_daemon_user(conf, &u) == 0 && u.set && u.uid == 0);
	test_assert(htg_conf_set(conf, "user=no-such-user-htg", &(const char *){ NULL }) == 0);
	test_assert(htg_daemon_user(conf, &u) == -1 && !u.set);
	test_assert(has_error(conf, "-o: user: no such user \"no-such-user-htg\""));
	htg_conf_free(&conf);
	test_end();
}

static void test_pid_file(void)
{
	char path[] = "/tmp/htg-test-daemon-pid.XXXXXX", buf[32] = "";
	struct htg_daemon d = { .name = "test-daemon" };
	int fd = mkstemp(path);
	FILE *fp;

	test_begin("daemon: pid file written and removed");
	test_assert(fd >= 0);
	close(fd);
	htg_daemon_pid_file(&d, path);
	fp = fopen(path, "r");
	test_assert(fp != NULL);
	if (fp != NULL) {
		test_assert(fgets(buf, sizeof(buf), fp) != NULL);
		fclose(fp);
	}
	test_assert(atol(buf) == (long)getpid());
	htg_daemon_pid_remove(&d);
	test_assert(access(path, F_OK) < 0);
	test_end();
}

int main(void)
{
	msg_init("test-daemon", "/dev/null");
	test_disk_dir();
	test_conf_and_user();
	test_pid_file();
	return test_exit();
}
