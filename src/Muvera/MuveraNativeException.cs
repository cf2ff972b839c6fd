// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera;

/// <summary>
/// An error reported by a native library behind a Muvera backend (USearch, the FAISS shim), carrying the native
/// message. Native code never throws across the boundary: it returns a status and a message, which become this
/// exception (or a backend's subclass of it). Argument and file-format problems are reported with the usual .NET
/// exceptions instead (<see cref="ArgumentException"/>, <see cref="System.IO.InvalidDataException"/>).
/// </summary>
public class MuveraNativeException : Exception
{
    /// <summary>Creates an exception with a default message.</summary>
    public MuveraNativeException()
        : this("A native library reported an error.")
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What failed.</param>
    public MuveraNativeException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and its cause.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The cause, or <see langword="null"/>.</param>
    public MuveraNativeException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception for a native error.</summary>
    /// <param name="message">What failed, including the native message.</param>
    /// <param name="nativeMessage">The message exactly as the native library reported it.</param>
    /// <param name="innerException">The cause, or <see langword="null"/>.</param>
    protected MuveraNativeException(string message, string? nativeMessage, Exception? innerException)
        : base(message, innerException)
    {
        NativeMessage = nativeMessage;
    }

    /// <summary>The error message exactly as the native library reported it, or <see langword="null"/> when the
    /// failure was detected on the managed side.</summary>
    public string? NativeMessage { get; }
}
