#ifndef HTG_POP3_LOGIN_PLUGIN_H
#define HTG_POP3_LOGIN_PLUGIN_H

struct module;

extern const char htg_pop3_login_plugin_binary_dependency[];
extern const char *htg_pop3_login_plugin_version;

void htg_pop3_login_plugin_init(struct module *module);
void htg_pop3_login_plugin_deinit(void);

#endif
