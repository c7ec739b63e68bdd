{
  "targets": [
    {
      "target_name": "corral_shm",
      "sources": ["src/shm.cc"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wno-cast-function-type"],
      "conditions": [
        ["OS=='linux'", { "libraries": ["-lrt"] }]
      ]
    }
  ]
}
