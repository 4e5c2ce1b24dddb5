/*
 * Error codes: static strings only, so these are thread-safe and never
 * allocate, whatever the code.
 */
#include "espota/errors.h"
#include "espota/version.h"

const char *espota_strerror(int code)
{
	switch (code) {
	case ESPOTA_OK: return "success";
	case ESPOTA_ERROR: return "generic error";
	case ESPOTA_EINVAL: return "invalid argument";
	case ESPOTA_ENOMEM: return "out of memory";
	case ESPOTA_EIO: return "input/output error";
	case ESPOTA_ETIMEOUT: return "timed out";
	case ESPOTA_EREFUSED: return "the device refused the update";
	case ESPOTA_EAUTH: return "authentication failed";
	case ESPOTA_EPROTO: return "protocol error";
	case ESPOTA_EIMAGE: return "invalid image";
	case ESPOTA_ENOFIT: return "the image does not fit the device";
	case ESPOTA_EUSER: return "stopped by a callback";
	case ESPOTA_ECANCELLED: return "cancelled";
	case ESPOTA_ERESOLVE: return "could not resolve the device address";
	case ESPOTA_ECLOSED: return "the device closed the connection without a result";
	default: return "unknown error";
	}
}

int espota_error_retryable(int code)
{
	return code == ESPOTA_ETIMEOUT || code == ESPOTA_ECLOSED || code == ESPOTA_EIO;
}

const char *espota_error_name(int code)
{
	switch (code) {
	case ESPOTA_OK: return "ESPOTA_OK";
	case ESPOTA_ERROR: return "ESPOTA_ERROR";
	case ESPOTA_EINVAL: return "ESPOTA_EINVAL";
	case ESPOTA_ENOMEM: return "ESPOTA_ENOMEM";
	case ESPOTA_EIO: return "ESPOTA_EIO";
	case ESPOTA_ETIMEOUT: return "ESPOTA_ETIMEOUT";
	case ESPOTA_EREFUSED: return "ESPOTA_EREFUSED";
	case ESPOTA_EAUTH: return "ESPOTA_EAUTH";
	case ESPOTA_EPROTO: return "ESPOTA_EPROTO";
	case ESPOTA_EIMAGE: return "ESPOTA_EIMAGE";
	case ESPOTA_ENOFIT: return "ESPOTA_ENOFIT";
	case ESPOTA_EUSER: return "ESPOTA_EUSER";
	case ESPOTA_ECANCELLED: return "ESPOTA_ECANCELLED";
	case ESPOTA_ERESOLVE: return "ESPOTA_ERESOLVE";
	case ESPOTA_ECLOSED: return "ESPOTA_ECLOSED";
	default: return "ESPOTA_UNKNOWN";
	}
}

const char *espota_version_string(void)
{
	return ESPOTA_VERSION_STRING;
}

void espota_version(int *major, int *minor, int *patch)
{
	if (major)
		*major = ESPOTA_VERSION_MAJOR;
	if (minor)
		*minor = ESPOTA_VERSION_MINOR;
	if (patch)
		*patch = ESPOTA_VERSION_PATCH;
}
