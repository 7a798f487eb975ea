@echo off
"%~dp0..\SparkTrainer.exe" cli %*
