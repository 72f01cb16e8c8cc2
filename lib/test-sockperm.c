/*++
/* NAME
/*	test-sockperm 1
/* SUMMARY
/*	unit tests of the socket permission settings (htg-sockperm)
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "htg-sockperm.h"
#include "htg-test.h"

static void test_parse(void)
{
	static const struct {
		const char *mode;
		int ok;
		mode_t want;
	} cases[] = {
		{ "0660", 1, 0660 }, { "660", 1, 0660 }, { "0600", 1, 0600 },
		{ "0", 1, 0 }, { "0770", 1, 0770 },
		{ "0666", 0, 0 }, { "0661", 0, 0 }, { "0777", 0, 0 },
		{ "1660", 0, 0 }, { "0880", 0, 0 }, { "", 0, 0 },
		{ "-660", 0, 0 }, { " 660", 0, 0 }, { "0x1b0", 0, 0 },
		{ "00660", 0, 0 }, { "66a", 0, 0 },
	};
	struct htg_sockperm perm;
	const char *error;
	struct group *gr = getgrgid(getgid());

	test_begin("sockperm: socket_mode octal, no bits for others");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = htg_sockperm_parse(cases[i].mode, "", &perm, &error);

		test_assert_idx(rc == (cases[i].ok ? 0 : -1), i);
		if (rc == 0)
			test_assert_idx(perm.mode == cases[i].want &&
					perm.group == (gid_t)-1, i);
		else
			test_assert_idx(strstr(error, "socket_mode") != NULL, i);
	}
	test_end();

	test_begin("sockperm: socket_group by name, empty keeps");
	test_assert(gr != NULL);
	if (gr != NULL) {
		test_assert(htg_sockperm_parse("0660", gr->gr_name, &perm,
					       &error) == 0);
		test_assert(perm.group == gr->gr_gid);
	}
	test_assert(htg_sockperm_parse("0660", "no-such-group-htg", &perm,
				       &error) == -1);
	test_assert(strstr(error, "no-such-group-htg") != NULL);
	test_end();
}

static int bind_socket(const char *path)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		exit(1);
	return fd;
}

static void test_apply(void)
{
	char dir[] = "/tmp/htg-test-sockperm.XXXXXX", path[64], other[64];
	struct htg_sockperm perm;
	const char *error;
	struct stat st;
	mode_t old;
	int fd, fd2;

	if (mkdtemp(dir) == NULL)
		exit(1);
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	snprintf(other, sizeof(other), "%s/file", dir);

	test_begin("sockperm: born 0600 whatever the umask, then the mode");
	umask(0);
	old = htg_sockperm_umask();
	fd = bind_socket(path);
	umask(old);
	test_assert(old == 0);
	test_assert(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600);
	test_assert(htg_sockperm_parse("0660", "", &perm, &error) == 0);
	perm.group = getgid();
	perm.group_name = "own";
	test_assert(htg_sockperm_apply(path, (uid_t)-1, &perm, &error) == 0);
	test_assert(stat(path, &st) == 0 && (st.st_mode & 07777) == 0660 &&
		    st.st_gid == getgid() && st.st_uid == geteuid());
	test_end();

	test_begin("sockperm: not a socket, a link, or missing: refused");
	fclose(fopen(other, "w"));
	test_assert(htg_sockperm_apply(other, (uid_t)-1, &perm, &error) == -1);
	test_assert(strstr(error, "not a socket") != NULL);
	unlink(other);
	test_assert(symlink(path, other) == 0);
	test_assert(htg_sockperm_apply(other, (uid_t)-1, &perm, &error) == -1);
	unlink(other);
	test_assert(htg_sockperm_apply(other, (uid_t)-1, &perm, &error) == -1);
	test_end();

	test_begin("sockperm: the socket's directory must not be writable "
		   "by others");
	chmod(dir, 0755);
	test_assert(htg_sockperm_check_dir(path, &error) == 0);
	chmod(dir, 0757);
	test_assert(htg_sockperm_check_dir(path, &error) == -1);
	test_assert(strstr(error, dir) != NULL);
	chmod(dir, 01777);
	test_assert(htg_sockperm_check_dir(path, &error) == 0);
	chmod(dir, 0770);
	test_assert(htg_sockperm_check_dir(path, &error) == -1);
	test_end();

	/* a second socket under a normal umask is not left open either */
	snprintf(other, sizeof(other), "%s/t.sock", dir);
	umask(022);
	old = htg_sockperm_umask();
	fd2 = bind_socket(other);
	umask(old);
	test_begin("sockperm: umask restored after bind");
	test_assert(old == 022 && umask(022) == 022);
	test_assert(stat(other, &st) == 0 && (st.st_mode & 07777) == 0600);
	test_end();

	close(fd);
	close(fd2);
	unlink(path);
	unlink(other);
	rmdir(dir);
}

int main(void)
{
	test_parse();
	test_apply();
	return test_exit();
}
