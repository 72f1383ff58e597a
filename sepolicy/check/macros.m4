dnl The Android te_macros / global_macros that bpfloader.te uses, with the
dnl same meaning (simplified to the rules that matter for a compile check).
define(`rx_file_perms', `{ getattr open read ioctl lock map execute }')
define(`w_file_perms', `{ open append write lock map }')
define(`rw_file_perms', `{ getattr open read ioctl lock map write append }')
define(`init_daemon_domain', `
type_transition init $1_exec:process $1;
allow init $1_exec:file { getattr open read execute };
allow init $1:process transition;
allow $1 $1_exec:file { entrypoint getattr open read map execute };
')
define(`set_prop', `
allow $1 property_socket:sock_file write;
allow $1 init:unix_stream_socket connectto;
allow $1 $2:property_service set;
')
