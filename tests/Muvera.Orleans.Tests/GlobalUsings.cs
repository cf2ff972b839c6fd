// Copyright (c) Muvera contributors. Licensed under the MIT License.

global using NUnit.Framework;
