# OB_ADD_CFLAGS(VAR, FLAGS): append each flag the compiler accepts to VAR.
AC_DEFUN([OB_ADD_CFLAGS], [
  for ob_flag in $2; do
    AC_MSG_CHECKING([whether $CC accepts $ob_flag])
    ob_save_CFLAGS=$CFLAGS
    CFLAGS="$CFLAGS -Werror $ob_flag"
    AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
      [AC_MSG_RESULT([yes]); $1="$$1 $ob_flag"], [AC_MSG_RESULT([no])])
    CFLAGS=$ob_save_CFLAGS
  done
])
# OB_ADD_LDFLAGS(VAR, FLAGS): append each flag the linker accepts to VAR.
AC_DEFUN([OB_ADD_LDFLAGS], [
  for ob_flag in $2; do
    AC_MSG_CHECKING([whether the linker accepts $ob_flag])
    ob_save_LDFLAGS=$LDFLAGS
    LDFLAGS="$LDFLAGS $ob_flag"
    AC_LINK_IFELSE([AC_LANG_PROGRAM([], [])],
      [AC_MSG_RESULT([yes]); $1="$$1 $ob_flag"], [AC_MSG_RESULT([no])])
    LDFLAGS=$ob_save_LDFLAGS
  done
])
