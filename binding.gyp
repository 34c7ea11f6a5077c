{
  "targets": [
    {
      "target_name": "alsa_health",
      "sources": [
        "native/addon.cc",
        "native/alsa_backend.cc",
        "native/backend_factory.cc",
        "native/errno_names.cc",
        "native/js_values.cc",
        "native/list_pcms.cc",
        "native/mock_backend.cc",
        "native/options.cc",
        "native/pcm_handle.cc",
        "native/sd_notify.cc",
        "native/watcher.cc",
        "native/watcher_recovery.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-lasound", "-lpthread"]
    }
  ]
}
