/* espota boards: list the board database (boards_cmd.c). */
#ifndef ESPOTA_CLI_BOARDS_CMD_H
#define ESPOTA_CLI_BOARDS_CMD_H

/* argv[0] is "boards". Returns the exit code. */
int cli_boards_main(int argc, char **argv);

#endif
