// The umbrella header must compile as C++ (extern "C" guards).
#include <espota.h>

int headertest_cxx_dummy();
int headertest_cxx_dummy() { return ESPOTA_OK + static_cast<int>(espota_strerror(0) != nullptr); }
