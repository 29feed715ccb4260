// A first-in first-out queue that costs a pointer until first used:
// std::deque allocates its map and a 512-byte block when made, which a
// session's two queues (rarely used: a store that checks acknowledgements,
// dead letters) paid for every idle device: an idle TLS device had come to
// 6.2 KiB, and is 4.8 again without them (bench/run idle). Once made it is a std::deque, whose
// references stay valid as it grows.
#pragma once
#include <deque>
#include <memory>
#include <utility>

template <typename T>
struct hf_fifo {
    std::unique_ptr<std::deque<T>> made;

    bool empty() const { return !made || made->empty(); }
    T &front() { return made->front(); }
    void pop_front() { made->pop_front(); }
    void clear()
    {
        if (made)
            made->clear();
    }
    T &emplace_back() { return queue().emplace_back(); }
    void push_back(T item) { queue().push_back(std::move(item)); }
    // Walking an empty one makes nothing.
    typename std::deque<T>::iterator begin() { return made ? made->begin() : typename std::deque<T>::iterator(); }
    typename std::deque<T>::iterator end() { return made ? made->end() : typename std::deque<T>::iterator(); }

  private:
    std::deque<T> &queue()
    {
        if (!made)
            made = std::make_unique<std::deque<T>>();
        return *made;
    }
};
