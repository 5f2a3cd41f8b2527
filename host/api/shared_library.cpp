// libetp.so (the installed etp::etp): the public library API of include/etp, linked whole from
// the static etp_api and the host libraries it uses. This file only gives the shared library a
// translation unit of its own; every symbol comes from those archives.
