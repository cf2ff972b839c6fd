// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Faiss;

/// <summary>
/// A failure inside FAISS or the native shim (libmuvera_faiss.so), with
/// <see cref="MuveraNativeException.NativeMessage"/> as the native side reported it. Native code never throws across
/// the boundary: it returns a status and a message, which become this exception.
/// </summary>
/// <remarks>Bad arguments that only FAISS can judge (a factory string it cannot parse) surface as
/// <see cref="ArgumentException"/> with this exception as the inner one; bad files as
/// <see cref="System.IO.InvalidDataException"/>.</remarks>
public sealed class FaissException : MuveraNativeException
{
    /// <summary>Creates an exception with a default message.</summary>
    public FaissException()
        : base("FAISS reported an error.")
    {
        Status = "native error";
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What failed.</param>
    public FaissException(string message)
        : base(message)
    {
        Status = "native error";
    }

    /// <summary>Creates an exception with a message and its cause.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The cause, or <see langword="null"/>.</param>
    public FaissException(string message, Exception? innerException)
        : base(message, innerException)
    {
        Status = "native error";
    }

    /// <summary>Creates an exception for a failed native call.</summary>
    /// <param name="message">What failed, including the native message.</param>
    /// <param name="status">The native status, in words.</param>
    /// <param name="nativeMessage">The message exactly as the native side reported it.</param>
    internal FaissException(string message, string status, string nativeMessage)
        : base(message, nativeMessage, innerException: null)
    {
        Status = status;
    }

    /// <summary>The native status, in words: "FAISS error" (FAISS threw), "invalid argument", "unsupported index",
    /// "out of memory" or "native error" (also for exceptions created on the managed side).</summary>
    public string Status { get; }
}
