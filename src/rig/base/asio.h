// The one place Boost.Asio is included. GCC 12 in C++20 mode needs <utility> before Boost 1.74's
// Asio (awaitable.hpp uses std::exchange); including it here keeps a later switch painless.
#pragma once
#include <utility>
#include <boost/asio.hpp>
