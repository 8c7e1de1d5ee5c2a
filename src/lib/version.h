/* version: roost's version string, shared by the CLI and the ID command. */
#ifndef ROOST_LIB_VERSION_H
#define ROOST_LIB_VERSION_H

#define ROOST_VERSION "0.1.0"

#endif
