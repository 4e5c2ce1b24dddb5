/* Built outside the tree against an installed libespota. */
#include <stdio.h>
#include <string.h>
#include <espota.h>

int main(void)
{
	espota_session *s = NULL;
	const espota_layout *l = espota_layout_find("1M256");

	if (espota_session_new(&s, NULL) != ESPOTA_OK || l == NULL)
		return 1;
	printf("libespota %s, 1M256 filesystem %u bytes\n", espota_version_string(),
		(unsigned)(l->fs_end - l->fs_start));
	espota_session_free(s);
	return strcmp(espota_version_string(), ESPOTA_VERSION_STRING) != 0;
}
