# Cross toolchain for the board: Cortex-A7 (armv7, NEON, hard float), Debian's
# armhf cross compiler and libasound2-dev:armhf (dpkg --add-architecture armhf).
# CMakeLists.txt applies AH_TARGET_FLAGS to the addon (cmake-js sets
# CMAKE_CXX_FLAGS on its command line, which would hide *_FLAGS_INIT).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(AH_TRIPLE arm-linux-gnueabihf)

set(CMAKE_C_COMPILER ${AH_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${AH_TRIPLE}-g++)
set(CMAKE_STRIP ${AH_TRIPLE}-strip CACHE FILEPATH "strip for the target")

set(AH_TARGET_FLAGS -mcpu=cortex-a7 -mfpu=neon-vfpv4 -mfloat-abi=hard)
string(REPLACE ";" " " _ah_flags "${AH_TARGET_FLAGS}")
set(CMAKE_C_FLAGS_INIT "${_ah_flags}")
set(CMAKE_CXX_FLAGS_INIT "${_ah_flags}")

# Debian multiarch: target libraries in /usr/lib/arm-linux-gnueabihf, headers
# (arch-independent ALSA ones) in /usr/include; never the host's libraries.
set(CMAKE_LIBRARY_ARCHITECTURE ${AH_TRIPLE})
set(CMAKE_FIND_ROOT_PATH /usr/${AH_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
