/* test-rules-doc.c - doc/rules.md lists every rule of lib/htg-rules.c
   with its reply and enhanced code, and nothing else: one row
   "| NAME | CODE | DSN |" per table entry, none that the table lacks. */

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htg-msg.h"
#include "htg-rules.h"
#include "htg-test.h"

#ifndef RULES_MD
#define RULES_MD "doc/rules.md"
#endif

int main(void)
{
	const char *path = getenv("RULES_MD") != NULL ? getenv("RULES_MD") :
		RULES_MD;
	unsigned int found[HTG_RULE_COUNT] = { 0 }, rows = 0, strangers = 0;
	char line[1024];
	FILE *fp;

	msg_init("test-rules-doc", "/dev/null");
	test_begin("doc/rules.md against lib/htg-rules.c");
	if ((fp = fopen(path, "r")) == NULL) {
		printf("cannot open %s\n", path);
		test_assert(0);
		test_end();
		return test_exit();
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		char name[64], dsn[16];
		int code, matched = 0;

		if (sscanf(line, "| %63s | %d | %15s |", name, &code, dsn) != 3 ||
		    strncmp(name, "HTG-", 4) != 0)
			continue;
		rows++;
		for (int i = 0; i < HTG_RULE_COUNT; i++) {
			const struct htg_rule *r = htg_rule_get((enum htg_rule_id)i);

			if (strcmp(r->name, name) == 0 && r->code == code &&
			    strcmp(r->dsn, dsn) == 0) {
				found[i]++;
				matched = 1;
			}
		}
		if (!matched) {
			printf("  not in lib/htg-rules.c: %s %d %s\n", name, code,
			       dsn);
			strangers++;
		}
	}
	fclose(fp);
	for (int i = 0; i < HTG_RULE_COUNT; i++) {
		const struct htg_rule *r = htg_rule_get((enum htg_rule_id)i);

		if (found[i] != 1)
			printf("  %s %d %s: %u rows in %s\n", r->name, r->code,
			       r->dsn, found[i], path);
		test_assert_idx(found[i] == 1, i);
	}
	test_assert(strangers == 0 && rows == HTG_RULE_COUNT);
	test_end();
	return test_exit();
}
