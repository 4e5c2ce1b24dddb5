/*
 * The standard ESP8266 flash layouts (flashfit.md section 3.2), built from
 * the shared data table layouts.def.
 */
#include <string.h>

#include "espota/flashfit.h"
#include "analysis/image_internal.h"
#include "util/util.h"

static const espota_layout layouts[] = {
#define ESPOTA_LAYOUT(name, ld, flash, fs_start, fs_end, block, irom0) \
	{ name, ld, flash, fs_start, fs_end, block, irom0 },
#include "data/layouts.def"
#undef ESPOTA_LAYOUT
};

size_t espota_layout_count(void)
{
	return sizeof(layouts) / sizeof(layouts[0]);
}

const espota_layout *espota_layout_at(size_t i)
{
	return i < espota_layout_count() ? &layouts[i] : NULL;
}

/* Accepts the menu name ("1M64", any case), the ld script
 * ("eagle.flash.1m64.ld") and the ld script without its suffix
 * ("eagle.flash.1m64"), as PlatformIO's board_build.ldscript spells it. */
const espota_layout *espota_layout_find(const char *name)
{
	size_t i, n;

	if (name == NULL)
		return NULL;
	n = strlen(name);
	for (i = 0; i < espota_layout_count(); i++) {
		const espota_layout *l = &layouts[i];
		size_t ln = strlen(l->ld_script);
		if (espota__strcaseeq(name, l->name) || espota__strcaseeq(name, l->ld_script))
			return l;
		if (n + 3 == ln && strncmp(name, l->ld_script, n) == 0)
			return l;
	}
	return NULL;
}
