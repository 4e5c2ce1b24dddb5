/* The umbrella header must compile alone under -std=c99 -pedantic. */
#include <espota.h>

int headertest_dummy(void);
int headertest_dummy(void) { return ESPOTA_OK; }
