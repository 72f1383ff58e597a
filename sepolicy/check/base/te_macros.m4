dnl Permission sets and macros of AOSP's global_macros / te_macros that the
dnl stand-in base and sepolicy/private/*.te use, with the meaning AOSP gives
dnl them (restated; only the parts that decide an access).
dnl
dnl Reading a file, writing one, both; executing one.
define(`r_file_perms', `{ getattr open read ioctl lock map watch watch_reads }')
define(`w_file_perms', `{ open append write lock map }')
define(`rw_file_perms', `{ getattr open read ioctl lock map watch watch_reads write append }')
define(`x_file_perms', `{ getattr execute execute_no_trans map }')
define(`rx_file_perms', `{ getattr open read ioctl lock map watch watch_reads execute execute_no_trans }')
dnl Listing and walking a directory.
define(`r_dir_perms', `{ open getattr read search ioctl lock watch watch_reads }')
dnl Read a tree: its directories, files and symlinks.
define(`r_dir_file', `
allow $1 $2:dir r_dir_perms;
allow $1 $2:{ file lnk_file } r_file_perms;
')
dnl $1 entering $3 when it executes a file of type $2 (signals and rlimits
dnl are inherited; libc's secure mode stays on, without an audit line).
define(`domain_auto_trans', `
allow $1 $2:file { getattr open read execute map };
allow $1 $3:process { transition siginh rlimitinh };
dontaudit $1 $3:process noatsecure;
allow $3 $2:file { entrypoint open read execute getattr map };
allow $3 $1:process sigchld;
type_transition $1 $2:process $3;
')
dnl A service init starts in its own domain $1 from a file of type $1_exec.
define(`init_daemon_domain', `domain_auto_trans(init, $1_exec, $1)')
dnl Setting a property: talk to init's property socket, then property_service set.
define(`set_prop', `
allow $1 property_socket:sock_file write;
allow $1 init:unix_stream_socket connectto;
allow $1 $2:property_service set;
')
