#ifndef HTG_PLUGIN_H
#define HTG_PLUGIN_H

struct module;

extern const char *htg_plugin_version;

void htg_plugin_init(struct module *module);
void htg_plugin_deinit(void);

#endif
