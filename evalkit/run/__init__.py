"""The runner: plan missing keys, keep the engines fed, drive controllers, append rows, grade in the background."""
